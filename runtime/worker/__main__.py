from runtime.worker.main import main

main()
