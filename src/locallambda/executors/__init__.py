"""locallambda.executors"""
