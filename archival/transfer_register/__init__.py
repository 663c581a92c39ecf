"""The receiving register (电子档案移交与接收登记表): what the archive received from one agency in a
period, built as data from the catalog's records, the agency's dead letters and review items
(`build`), then rendered as an HTML page (`html`) and a PDF with an embedded Chinese font (`pdf`).
Pure: the reading of the topics is connectors/transfer_register.py's (docs/design.md, "Transfer
register")."""
