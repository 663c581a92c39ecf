from recordflow.cli import main

main()
