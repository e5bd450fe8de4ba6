"""locallambda.event_sources"""
