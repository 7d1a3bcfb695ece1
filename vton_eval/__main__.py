from vton_eval.entry import main

main()
