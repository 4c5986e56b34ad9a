"""The sample corpus behind ``quilt sample``: tweets, PubMed articles, web pages, videos, server."""
