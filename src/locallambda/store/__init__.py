"""locallambda.store"""
