"""locallambda.runtime_api"""
