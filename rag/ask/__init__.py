"""`python -m rag.ask`: answer a question about the library from the command line."""
