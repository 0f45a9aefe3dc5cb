import { startPopulationSim } from './population/server.js';

export { startPopulationSim, SIM_MODES, type PopulationSim, type PopulationSimOptions, type Received, type SimMode } from './population/server.js';
export { people, codeLists, RESERVED, type CongDan, type DiaChi, type ThanNhan } from './population/people.js';

/** Simulators by name, so `lienthong start` / the demo can start them from config. */
export const simulators = { population: startPopulationSim } as const;
export type SimulatorName = keyof typeof simulators;
