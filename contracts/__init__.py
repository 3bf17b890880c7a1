"""Table contracts shared by the batch side, the tools and the API.

Kept free of heavy imports, so the API server can import it:

- :mod:`contracts.raw`       the four raw tables and their columns, read from dbt's ``_sources.yml``
- :mod:`contracts.published` the published ranking columns, read from the `published_ranking` mart's contract
- :mod:`contracts.identifiers` environments, the default results table, the check of table names
- :mod:`contracts.locations`   where the published SQLite file of an environment lives

The API server imports only these, never the batch package ``pipeline``.
"""
