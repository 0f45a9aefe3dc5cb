import { startPopulationSim } from './population/server.js';
import { startDvcqgSim } from './dvcqg/server.js';
import { startEmcSim } from './emc/server.js';
import { startPaymentSim } from './payment/server.js';
import { startOnegateSim } from './onegate/server.js';

export { startPopulationSim, SIM_MODES, type PopulationSim, type PopulationSimOptions, type Received, type SimMode } from './population/server.js';
export { people, codeLists, RESERVED, type CongDan, type DiaChi, type ThanNhan } from './population/people.js';
export { startDvcqgSim, DVCQG_MODES, DVCQG_SERVICES, type DvcqgSim, type DvcqgSimOptions, type DvcqgMode, type ReceivedCall, type LoginAttempt } from './dvcqg/server.js';
export { startEmcSim, EMC_MODES, type EmcSim, type EmcSimOptions, type EmcMode, type EmcReceived } from './emc/server.js';
export {
  startPaymentSim, PAYMENT_MODES, MA_LOI, type PaymentSim, type PaymentSimOptions, type PaymentMode, type PaymentReceived,
  type PaymentTransaction, type SentCallback, type ConfirmRequest,
} from './payment/server.js';
export { SIGNINGS, type Signing } from './payment/confirm.js';
export { startOnegateSim, ONEGATE_MODES, PAYMENT_RESULT_PATH, type OnegateSim, type OnegateSimOptions, type OnegateMode, type OnegateReceived } from './onegate/server.js';

/** Simulators by name, so `lienthong start` / the demo can start them from config. */
export const simulators = { population: startPopulationSim, dvcqg: startDvcqgSim, emc: startEmcSim, payment: startPaymentSim, onegate: startOnegateSim } as const;
export type SimulatorName = keyof typeof simulators;
