"""locallambda.control"""
