"""The runner: turns configuration into database connections and executes commands against them."""
