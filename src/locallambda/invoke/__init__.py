"""locallambda.invoke"""
