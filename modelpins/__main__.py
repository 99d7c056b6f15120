from modelpins.cli import main

raise SystemExit(main())
