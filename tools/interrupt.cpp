#include "tools/interrupt.hpp"

#include <csignal>

namespace subq::tools {

namespace {

volatile std::sig_atomic_t caught = 0;

extern "C" void on_interrupt(int signal) { caught = signal; }

}  // namespace

void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  action.sa_flags = SA_RESETHAND;  // the second signal takes the default action: the user insists
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int caught_interrupt() { return caught; }

const char* signal_name(int signal) { return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace subq::tools
