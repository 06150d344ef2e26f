from splifft.cli import main

raise SystemExit(main())
