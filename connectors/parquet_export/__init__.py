"""The catalog as Parquet in the exports bucket, incrementally (docs/design.md, "Parquet exports").

`rows`: which records and which of their fields go out, as one typed pyarrow schema (pure);
`manifest`: what each export holds, the offsets it read up to, and the keys (pure);
`export`: reading the catalog topic from those offsets, writing the files and uploading them.
"""
