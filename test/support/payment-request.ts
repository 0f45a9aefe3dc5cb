/** A canonical PaymentInitRequest (fictitious payer) for the payment platform's INIT operation. */
export const PAYMENT_INIT_REQUEST = {
  paymentRef: 'dvc00014H562503040007', dossierCode: '000.00.14.H56-250304-0007', amount: 50000, currency: 'VND', channel: 'DVCQG_PP',
  description: 'THANH TOAN HO SO 000.00.14.H56-250304-0007', requestedAt: '2025-03-04T09:15:00+07:00', clientIp: '192.0.2.10',
  procedure: { code: '1.001234', name: 'Đăng ký (mẫu)', onlineServiceCode: '1.001234.01', onlineServiceName: 'Đăng ký (mẫu)' },
  agency: { code: '000.00.14.H56', name: 'UBND huyện Mẫu (mẫu)' }, beneficiary: { account: '9999000001', bankCode: 'NH-MAU', name: 'UBND huyện Mẫu (mẫu)' },
  payer: { name: 'Trần Văn Thử', personalId: '038095999901', address: { detail: 'Số 1 phố Giả Định', districtName: 'Huyện Mẫu', provinceName: 'Thanh Hóa' } },
  items: [{ kind: 'CHARGE', code: '1.001234.01', name: 'Lệ phí (mẫu)', amount: 50000 }],
};
