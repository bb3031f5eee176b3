// No command takes the API key as an argument: every local user can read a process's command
// line (`ps`, /proc/<pid>/cmdline) for as long as it runs, and shells keep it in their history.
// The option is still parsed, hidden, so that using it gets this line instead of "unknown option".
import { Option } from "commander";

export const KEY_ON_COMMAND_LINE =
  "--api-key is not accepted here (a key on the command line shows up in process lists and shell history): save it once with `hybro-hub config set-key` (typed without echo, or piped), or set HYBRO_API_KEY, or use --api-key-file FILE";

export function keyOnCommandLineOption(): Option {
  return new Option("--api-key <key>", "not accepted: see `hybro-hub config set-key`").hideHelp();
}
