"""locallambda.edge"""
