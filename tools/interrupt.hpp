#pragma once
// Interrupts of the long commands (ppl): SIGINT and SIGTERM stop the run between forward calls
// instead of killing it mid-write, so that it prints what it has scored and leaves no file half
// written (the files it would have written are not written at all).
namespace subq::tools {

/// From here on the first SIGINT or SIGTERM only sets a flag; a second one ends the process as
/// the signal would (the default action is restored when the first arrives).
void catch_interrupts();

/// The signal caught since catch_interrupts(), or 0.
int caught_interrupt();

/// "SIGINT" or "SIGTERM".
const char* signal_name(int signal);

}  // namespace subq::tools
