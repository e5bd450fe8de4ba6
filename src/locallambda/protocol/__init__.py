"""locallambda.protocol"""
