"""`python -m rag.eval`: measure retrieval quality from the command line."""

from rag.commands.evaluate import main

raise SystemExit(main())
