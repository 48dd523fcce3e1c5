"""The API's views, one module per kind of object; each reaches tenant rows only through
``projects.access``'s ``api_*`` helpers, scoped to the key's agency."""
