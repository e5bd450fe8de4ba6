"""locallambda.runtimes"""
