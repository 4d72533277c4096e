import SeedgenCommands

// Everything the command line does lives in SeedgenCommands, where tests can run it in-process.
await SeedgenCommand.runAsProcess()
