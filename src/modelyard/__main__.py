from modelyard.cli.entry import main

main()
