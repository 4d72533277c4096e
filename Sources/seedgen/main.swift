import Glibc
import SeedgenCommands

// `seedgen iso`'s common forms start without the argument parser (see ISOQuickStart: start-up
// is most of what a seed ISO costs); everything else, and anything it is unsure of, goes on.
if let status = ISOQuickStart.runIfRecognised(CommandLine.arguments) { exit(status) }
// Everything the command line does lives in SeedgenCommands, where tests can run it in-process.
await SeedgenCommand.runAsProcess()
