from agentsim.cli import run_main

run_main()
