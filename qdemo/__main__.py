from qdemo.cli import main

raise SystemExit(main())
