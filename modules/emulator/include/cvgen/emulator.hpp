#ifndef CVGEN_EMULATOR_HPP
#define CVGEN_EMULATOR_HPP

/** @file
 * @brief The emulator module: a local server of the providers' wire protocol with fault
 * injection (`cvgen serve`).
 */

#include "cvgen/emulator/faults.hpp"
#include "cvgen/emulator/server.hpp"

#endif  // CVGEN_EMULATOR_HPP
