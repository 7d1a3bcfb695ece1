from vton_eval.cli import main

main()
