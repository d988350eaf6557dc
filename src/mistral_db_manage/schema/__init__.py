"""The Mistral schema: column types, the head models and the schema-state machinery."""
