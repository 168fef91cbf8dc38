"""`python -m modelferry_cli` = the `modelferry` console script."""

from modelferry_cli.main import main

raise SystemExit(main())
