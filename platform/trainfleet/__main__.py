from trainfleet.cli import main

raise SystemExit(main())
