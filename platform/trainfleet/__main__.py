from trainfleet.cli import console

console()
