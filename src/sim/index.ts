import { startPopulationSim } from './population/server.js';
import { startDvcqgSim } from './dvcqg/server.js';
import { startEmcSim } from './emc/server.js';

export { startPopulationSim, SIM_MODES, type PopulationSim, type PopulationSimOptions, type Received, type SimMode } from './population/server.js';
export { people, codeLists, RESERVED, type CongDan, type DiaChi, type ThanNhan } from './population/people.js';
export { startDvcqgSim, DVCQG_MODES, DVCQG_SERVICES, type DvcqgSim, type DvcqgSimOptions, type DvcqgMode, type ReceivedCall, type LoginAttempt } from './dvcqg/server.js';
export { startEmcSim, EMC_MODES, type EmcSim, type EmcSimOptions, type EmcMode, type EmcReceived } from './emc/server.js';

/** Simulators by name, so `lienthong start` / the demo can start them from config. */
export const simulators = { population: startPopulationSim, dvcqg: startDvcqgSim, emc: startEmcSim } as const;
export type SimulatorName = keyof typeof simulators;
