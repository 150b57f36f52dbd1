"""Everything that reads or writes the paperbot home: SQLite, Chroma, BM25 and files."""
