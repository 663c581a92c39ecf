"""The lookup service (`recordflow lookup`): the archived records found and used online by the
e-government portal and the archive's staff. `store` keeps them (from the catalog), `text` finds
Chinese words in them, `tokens` says who calls, `app` serves them."""
