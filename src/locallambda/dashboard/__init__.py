"""locallambda.dashboard"""
