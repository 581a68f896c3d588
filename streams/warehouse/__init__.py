"""ClickHouse: the client, the rows the sink writes, the sink, and the one door for analyst SQL."""
