"""`python -m rag.search`: search the library from the command line."""

from rag.commands.search import main

raise SystemExit(main())
