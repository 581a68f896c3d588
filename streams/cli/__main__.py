from streams.cli.commands import main

raise SystemExit(main())
