/**
 * Fictitious residents of the simulated national population database (CSDLQG về dân cư).
 * Every name and address is made up ("Thử", "Mẫu", "Giả" = test, sample, fake). Personal ids follow the real
 * CCCD structure (province of birth registration, gender+century digit, 2-digit birth year) with the random
 * part `9999NN`, so they can never collide with a real person's. Shapes mirror the SOAP answer's `CongDan`.
 *
 * `DanToc` uses the national list of 54 ethnic groups (Tổng cục Thống kê, Quyết định 121-TCTK/PPCĐ: 01 Kinh … 54
 * Rơ-măm), the same list as the hub's code table mappings/codes/csdldc-ethnicity.yaml. The other code lists
 * (TonGiao, TinhTrangHonNhan, NhomMau, ChuHo.QuanHe) are the simulator's own convention: the population database's
 * tables are not public, and the hub passes these codes through unchanged. Labels are in `codeLists`.
 */

export interface DiaChi {
  MaTinhThanh: string;
  MaQuanHuyen: string;
  MaPhuongXa: string;
  ChiTiet: string;
  QuocGia: string;
}

export interface ThanNhan {
  HoVaTen: string;
  QuocTich: string;
  SoDinhDanh?: string;
  SoCMND?: string;
}

export interface CongDan {
  SoDinhDanh: string;
  /** Legacy 9-digit CMND, when the person had one. */
  SoCMND?: string;
  HoVaTen: { Ho: string; ChuDem: string; Ten: string };
  /** 1 nam, 2 nữ. */
  GioiTinh: '1' | '2';
  DanToc: string;
  TonGiao: string;
  TinhTrangHonNhan: string;
  NhomMau: string;
  /** `NgayThangNam` (yyyyMMdd) is absent when only the year is known. */
  NgayThangNamSinh: { Nam: string; NgayThangNam?: string };
  NoiDangKyKhaiSinh: DiaChi;
  QueQuan: DiaChi;
  ThuongTru: DiaChi;
  NoiOHienTai: DiaChi;
  QuocTich: string;
  Cha?: ThanNhan;
  Me?: ThanNhan;
  VoChong?: ThanNhan;
  NguoiDaiDien?: ThanNhan;
  ChuHo: { QuanHe: string; HoVaTen: string; SoDinhDanh: string };
  SoSoHoKhau: string;
}

export const codeLists = {
  GioiTinh: { '1': 'Nam', '2': 'Nữ' },
  /** Danh mục các dân tộc Việt Nam (54 dân tộc). */
  DanToc: {
    '01': 'Kinh', '02': 'Tày', '03': 'Thái', '04': 'Hoa', '05': 'Khơ-me', '06': 'Mường',
    '07': 'Nùng', '08': 'Mông', '09': 'Dao', '10': 'Gia-rai', '11': 'Ngái', '12': 'Ê-đê',
    '13': 'Ba-na', '14': 'Xơ-đăng', '15': 'Sán Chay', '16': 'Cơ-ho', '17': 'Chăm', '18': 'Sán Dìu',
    '19': 'Hrê', '20': 'Mnông', '21': 'Ra-glai', '22': 'Xtiêng', '23': 'Bru-Vân Kiều', '24': 'Thổ',
    '25': 'Giáy', '26': 'Cơ-tu', '27': 'Gié-Triêng', '28': 'Mạ', '29': 'Khơ-mú', '30': 'Co',
    '31': 'Tà-ôi', '32': 'Chơ-ro', '33': 'Kháng', '34': 'Xinh-mun', '35': 'Hà Nhì', '36': 'Chu-ru',
    '37': 'Lào', '38': 'La Chí', '39': 'La Ha', '40': 'Phù Lá', '41': 'La Hủ', '42': 'Lự',
    '43': 'Lô Lô', '44': 'Chứt', '45': 'Mảng', '46': 'Pà Thẻn', '47': 'Cơ Lao', '48': 'Cống',
    '49': 'Bố Y', '50': 'Si La', '51': 'Pu Péo', '52': 'Brâu', '53': 'Ơ Đu', '54': 'Rơ-măm',
  },
  TonGiao: { '00': 'Không', '01': 'Phật giáo', '02': 'Công giáo' },
  TinhTrangHonNhan: { '1': 'Chưa kết hôn', '2': 'Đã kết hôn', '3': 'Đã ly hôn', '4': 'Góa' },
  NhomMau: { '0': 'Chưa xác định', '1': 'A', '2': 'B', '3': 'AB', '4': 'O' },
  QuanHe: { '01': 'Chủ hộ', '02': 'Vợ', '03': 'Chồng', '04': 'Con', '05': 'Con dâu', '06': 'Cháu', '07': 'Em' },
} as const;

/** CCCDs with a behaviour instead of a person. */
export const RESERVED = {
  /** Answers a SOAP Server fault "Hệ thống đang bận". */
  FAULT: '038099999990',
  /** Sleeps 30 s before answering (to trigger caller timeouts). */
  SLOW: '038099999991',
} as const;

const addr = (MaTinhThanh: string, MaQuanHuyen: string, MaPhuongXa: string, ChiTiet: string): DiaChi => ({
  MaTinhThanh,
  MaQuanHuyen,
  MaPhuongXa,
  ChiTiet,
  QuocGia: 'VN',
});

const THANH_HOA = addr('38', '380', '14755', 'Số 12 đường Thử Nghiệm, phường Mẫu Sơn');
const THANH_HOA_QUE = addr('38', '391', '15016', 'Thôn Giả Định, xã Thử Lộc');
const HA_NOI_1 = addr('01', '001', '00001', 'Số 1 phố Giả Định');
const HA_NOI_2 = addr('01', '002', '00037', 'Số 7 ngõ Mẫu, phố Thử');
const HCM = addr('79', '760', '26740', 'Số 99 đường Ví Dụ, khu phố Giả');
const HCM_2 = addr('79', '760', '26734', 'Phòng 3, số 5 hẻm Mẫu, đường Thử');
const NGHE_AN = addr('40', '412', '16681', 'Xóm Thử, xã Nghi Mẫu');
const DA_NANG = addr('48', '492', '20218', 'Số 20 đường Giả Định');
const HAU_GIANG = addr('93', '930', '31321', 'Ấp Thử Nghiệm, xã Vị Mẫu');
const HA_GIANG = addr('02', '024', '00688', 'Thôn Nà Mẫu, xã Thử Cao');
const CA_MAU = addr('96', '964', '32002', 'Số 3 đường Minh Họa');
const CAN_THO = addr('92', '916', '31117', 'Số 8 đường Giả Lập, phường Mẫu');
const HAI_PHONG = addr('31', '303', '11299', 'Số 15 phố Giả Định');
const NAM_DINH = addr('36', '356', '13645', 'Số 4 phố Thử, phường Mẫu');

const everywhere = (a: DiaChi) => ({ NoiDangKyKhaiSinh: a, QueQuan: a, ThuongTru: a, NoiOHienTai: a });
const head = (p: { HoVaTen: string; SoDinhDanh: string }, QuanHe = '01') => ({ QuanHe, HoVaTen: p.HoVaTen, SoDinhDanh: p.SoDinhDanh });

// Heads of households and relatives referenced by others.
const ongMau = { HoVaTen: 'Trần Văn Mẫu', SoDinhDanh: '038065999905', SoCMND: '171999905', QuocTich: 'VN' };
const baThu = { HoVaTen: 'Lê Thị Thử', SoDinhDanh: '038167999906', SoCMND: '172999906', QuocTich: 'VN' };
const anhThu = { HoVaTen: 'Trần Văn Thử', SoDinhDanh: '038095999901', SoCMND: '173999901', QuocTich: 'VN' };
const chiGia = { HoVaTen: 'Nguyễn Thị Giả', SoDinhDanh: '038196999903', QuocTich: 'VN' };
const chiMau = { HoVaTen: 'Lê Thị Mẫu', SoDinhDanh: '001199999902' };
const anhGia = { HoVaTen: 'Nguyễn Văn Giả', SoDinhDanh: '001090999907', SoCMND: '012999907', QuocTich: 'VN' };
const chiNghiem = { HoVaTen: 'Phạm Thị Thí Nghiệm', SoDinhDanh: '001192999908', QuocTich: 'VN' };
const ongKiem = { HoVaTen: 'Đặng Văn Kiểm', SoDinhDanh: '040050999911', SoCMND: '180999911', QuocTich: 'VN' };
const baHoa = { HoVaTen: 'Bùi Thị Minh Họa', SoDinhDanh: '040155999912', QuocTich: 'VN' };
const anhUng = { HoVaTen: 'Ưng Văn Thử', SoDinhDanh: '031080999918', QuocTich: 'VN' };
const chiDoan = { HoVaTen: 'Đoàn Thị Mẫu', SoDinhDanh: '031182999921', QuocTich: 'VN' };
const HK_TRAN = '380000001';

export const people: readonly CongDan[] = [
  {
    SoDinhDanh: '038095999901', SoCMND: '173999901',
    HoVaTen: { Ho: 'Trần', ChuDem: 'Văn', Ten: 'Thử' }, GioiTinh: '1',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '2', NhomMau: '4',
    NgayThangNamSinh: { Nam: '1995', NgayThangNam: '19950312' },
    NoiDangKyKhaiSinh: THANH_HOA_QUE, QueQuan: THANH_HOA_QUE, ThuongTru: THANH_HOA, NoiOHienTai: HA_NOI_2,
    QuocTich: 'VN', Cha: ongMau, Me: baThu, VoChong: chiGia,
    ChuHo: head(ongMau, '04'), SoSoHoKhau: HK_TRAN,
  },
  {
    SoDinhDanh: '001199999902',
    HoVaTen: { Ho: 'Lê', ChuDem: 'Thị', Ten: 'Mẫu' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '01', TinhTrangHonNhan: '1', NhomMau: '1',
    NgayThangNamSinh: { Nam: '1999', NgayThangNam: '19990501' },
    ...everywhere(HA_NOI_1), QuocTich: 'VN',
    ChuHo: head(chiMau), SoSoHoKhau: '010000002',
  },
  {
    SoDinhDanh: '038196999903',
    HoVaTen: { Ho: 'Nguyễn', ChuDem: 'Thị', Ten: 'Giả' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '2', NhomMau: '2',
    NgayThangNamSinh: { Nam: '1996', NgayThangNam: '19960820' },
    NoiDangKyKhaiSinh: THANH_HOA, QueQuan: THANH_HOA, ThuongTru: THANH_HOA, NoiOHienTai: HA_NOI_2,
    QuocTich: 'VN', VoChong: anhThu,
    ChuHo: head(ongMau, '05'), SoSoHoKhau: HK_TRAN,
  },
  {
    SoDinhDanh: '038323999904',
    HoVaTen: { Ho: 'Trần', ChuDem: 'Thị Bé', Ten: 'Thử' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '1', NhomMau: '0',
    NgayThangNamSinh: { Nam: '2023', NgayThangNam: '20230601' },
    NoiDangKyKhaiSinh: THANH_HOA, QueQuan: THANH_HOA_QUE, ThuongTru: THANH_HOA, NoiOHienTai: HA_NOI_2,
    QuocTich: 'VN', Cha: anhThu, Me: chiGia, NguoiDaiDien: anhThu,
    ChuHo: head(ongMau, '06'), SoSoHoKhau: HK_TRAN,
  },
  {
    SoDinhDanh: '038065999905', SoCMND: '171999905',
    HoVaTen: { Ho: 'Trần', ChuDem: 'Văn', Ten: 'Mẫu' }, GioiTinh: '1',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '2', NhomMau: '4',
    NgayThangNamSinh: { Nam: '1965', NgayThangNam: '19651102' },
    NoiDangKyKhaiSinh: THANH_HOA_QUE, QueQuan: THANH_HOA_QUE, ThuongTru: THANH_HOA, NoiOHienTai: THANH_HOA,
    QuocTich: 'VN', VoChong: baThu,
    ChuHo: head(ongMau), SoSoHoKhau: HK_TRAN,
  },
  {
    SoDinhDanh: '038167999906', SoCMND: '172999906',
    HoVaTen: { Ho: 'Lê', ChuDem: 'Thị', Ten: 'Thử' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '01', TinhTrangHonNhan: '2', NhomMau: '1',
    NgayThangNamSinh: { Nam: '1967', NgayThangNam: '19670415' },
    NoiDangKyKhaiSinh: THANH_HOA_QUE, QueQuan: THANH_HOA_QUE, ThuongTru: THANH_HOA, NoiOHienTai: THANH_HOA,
    QuocTich: 'VN', VoChong: ongMau,
    ChuHo: head(ongMau, '02'), SoSoHoKhau: HK_TRAN,
  },
  {
    SoDinhDanh: '001090999907', SoCMND: '012999907',
    HoVaTen: { Ho: 'Nguyễn', ChuDem: 'Văn', Ten: 'Giả' }, GioiTinh: '1',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '2', NhomMau: '3',
    NgayThangNamSinh: { Nam: '1990', NgayThangNam: '19900115' },
    ...everywhere(HA_NOI_2), QuocTich: 'VN', VoChong: chiNghiem,
    ChuHo: head(anhGia), SoSoHoKhau: '010000003',
  },
  {
    SoDinhDanh: '001192999908',
    HoVaTen: { Ho: 'Phạm', ChuDem: 'Thị Thí', Ten: 'Nghiệm' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '02', TinhTrangHonNhan: '2', NhomMau: '4',
    NgayThangNamSinh: { Nam: '1992', NgayThangNam: '19920730' },
    NoiDangKyKhaiSinh: HA_NOI_2, QueQuan: NAM_DINH, ThuongTru: HA_NOI_2, NoiOHienTai: HA_NOI_2,
    QuocTich: 'VN', VoChong: anhGia,
    ChuHo: head(anhGia, '02'), SoSoHoKhau: '010000003',
  },
  {
    SoDinhDanh: '079088999909', SoCMND: '025999909',
    HoVaTen: { Ho: 'Hoàng', ChuDem: 'Văn Mô', Ten: 'Phỏng' }, GioiTinh: '1',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '3', NhomMau: '2',
    NgayThangNamSinh: { Nam: '1988', NgayThangNam: '19880909' },
    ...everywhere(HCM), QuocTich: 'VN',
    ChuHo: { QuanHe: '01', HoVaTen: 'Hoàng Văn Mô Phỏng', SoDinhDanh: '079088999909' }, SoSoHoKhau: '790000004',
  },
  {
    SoDinhDanh: '079201999910',
    HoVaTen: { Ho: 'Vũ', ChuDem: 'Minh Ví', Ten: 'Dụ' }, GioiTinh: '1',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '1', NhomMau: '1',
    NgayThangNamSinh: { Nam: '2001', NgayThangNam: '20010909' },
    NoiDangKyKhaiSinh: HCM, QueQuan: HCM, ThuongTru: HCM, NoiOHienTai: HCM_2,
    QuocTich: 'VN',
    ChuHo: { QuanHe: '01', HoVaTen: 'Vũ Minh Ví Dụ', SoDinhDanh: '079201999910' }, SoSoHoKhau: '790000005',
  },
  {
    // Only the year of birth is known (common for people registered long ago).
    SoDinhDanh: '040050999911', SoCMND: '180999911',
    HoVaTen: { Ho: 'Đặng', ChuDem: 'Văn', Ten: 'Kiểm' }, GioiTinh: '1',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '2', NhomMau: '0',
    NgayThangNamSinh: { Nam: '1950' },
    ...everywhere(NGHE_AN), QuocTich: 'VN', VoChong: baHoa,
    ChuHo: head(ongKiem), SoSoHoKhau: '400000006',
  },
  {
    SoDinhDanh: '040155999912',
    HoVaTen: { Ho: 'Bùi', ChuDem: 'Thị Minh', Ten: 'Họa' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '01', TinhTrangHonNhan: '2', NhomMau: '4',
    NgayThangNamSinh: { Nam: '1955', NgayThangNam: '19550404' },
    ...everywhere(NGHE_AN), QuocTich: 'VN', VoChong: ongKiem,
    ChuHo: head(ongKiem, '02'), SoSoHoKhau: '400000006',
  },
  {
    SoDinhDanh: '048185999913', SoCMND: '201999913',
    HoVaTen: { Ho: 'Đỗ', ChuDem: 'Thị', Ten: 'Tạm' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '02', TinhTrangHonNhan: '4', NhomMau: '3',
    NgayThangNamSinh: { Nam: '1985', NgayThangNam: '19851231' },
    ...everywhere(DA_NANG), QuocTich: 'VN',
    ChuHo: { QuanHe: '01', HoVaTen: 'Đỗ Thị Tạm', SoDinhDanh: '048185999913' }, SoSoHoKhau: '480000007',
  },
  {
    // Spouse is a foreign national without a Vietnamese personal id.
    SoDinhDanh: '093087999914',
    HoVaTen: { Ho: 'Hồ', ChuDem: 'Văn Giả', Ten: 'Lập' }, GioiTinh: '1',
    DanToc: '04', TonGiao: '01', TinhTrangHonNhan: '2', NhomMau: '2',
    NgayThangNamSinh: { Nam: '1987', NgayThangNam: '19870228' },
    ...everywhere(HAU_GIANG), QuocTich: 'VN', VoChong: { HoVaTen: 'Vilay Giả', QuocTich: 'LA' },
    ChuHo: { QuanHe: '01', HoVaTen: 'Hồ Văn Giả Lập', SoDinhDanh: '093087999914' }, SoSoHoKhau: '930000008',
  },
  {
    SoDinhDanh: '002198999915',
    HoVaTen: { Ho: 'Ma', ChuDem: 'Thị', Ten: 'Mẫu' }, GioiTinh: '2',
    DanToc: '02', TonGiao: '00', TinhTrangHonNhan: '1', NhomMau: '4',
    NgayThangNamSinh: { Nam: '1998', NgayThangNam: '19981010' },
    ...everywhere(HA_GIANG), QuocTich: 'VN',
    ChuHo: { QuanHe: '01', HoVaTen: 'Ma Thị Mẫu', SoDinhDanh: '002198999915' }, SoSoHoKhau: '020000009',
  },
  {
    // No middle name.
    SoDinhDanh: '096091999916',
    HoVaTen: { Ho: 'Lê', ChuDem: '', Ten: 'Thử' }, GioiTinh: '1',
    DanToc: '05', TonGiao: '01', TinhTrangHonNhan: '1', NhomMau: '1',
    NgayThangNamSinh: { Nam: '1991', NgayThangNam: '19910615' },
    ...everywhere(CA_MAU), QuocTich: 'VN',
    ChuHo: { QuanHe: '01', HoVaTen: 'Lê Thử', SoDinhDanh: '096091999916' }, SoSoHoKhau: '960000010',
  },
  {
    SoDinhDanh: '092194999917',
    HoVaTen: { Ho: 'Nguyễn', ChuDem: 'Thị Ngọc', Ten: 'Giả' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '1', NhomMau: '2',
    NgayThangNamSinh: { Nam: '1994', NgayThangNam: '19940308' },
    ...everywhere(CAN_THO), QuocTich: 'VN',
    ChuHo: { QuanHe: '01', HoVaTen: 'Nguyễn Thị Ngọc Giả', SoDinhDanh: '092194999917' }, SoSoHoKhau: '920000011',
  },
  {
    SoDinhDanh: '031080999918',
    HoVaTen: { Ho: 'Ưng', ChuDem: 'Văn', Ten: 'Thử' }, GioiTinh: '1',
    DanToc: '06', TonGiao: '00', TinhTrangHonNhan: '2', NhomMau: '4',
    NgayThangNamSinh: { Nam: '1980', NgayThangNam: '19800519' },
    ...everywhere(HAI_PHONG), QuocTich: 'VN', VoChong: chiDoan,
    ChuHo: head(anhUng), SoSoHoKhau: '310000012',
  },
  {
    SoDinhDanh: '031182999921',
    HoVaTen: { Ho: 'Đoàn', ChuDem: 'Thị', Ten: 'Mẫu' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '00', TinhTrangHonNhan: '2', NhomMau: '1',
    NgayThangNamSinh: { Nam: '1982', NgayThangNam: '19820220' },
    ...everywhere(HAI_PHONG), QuocTich: 'VN', VoChong: anhUng,
    ChuHo: head(anhUng, '02'), SoSoHoKhau: '310000012',
  },
  {
    SoDinhDanh: '001300999919',
    HoVaTen: { Ho: 'Lê', ChuDem: 'Thị Ánh', Ten: 'Thử' }, GioiTinh: '2',
    DanToc: '01', TonGiao: '01', TinhTrangHonNhan: '1', NhomMau: '1',
    NgayThangNamSinh: { Nam: '2000', NgayThangNam: '20000101' },
    ...everywhere(HA_NOI_1), QuocTich: 'VN',
    ChuHo: head(chiMau, '07'), SoSoHoKhau: '010000002',
  },
  {
    SoDinhDanh: '036099999920',
    HoVaTen: { Ho: 'Tô', ChuDem: 'Văn Giả', Ten: 'Định' }, GioiTinh: '1',
    DanToc: '01', TonGiao: '02', TinhTrangHonNhan: '1', NhomMau: '3',
    NgayThangNamSinh: { Nam: '1999', NgayThangNam: '19991201' },
    NoiDangKyKhaiSinh: NAM_DINH, QueQuan: NAM_DINH, ThuongTru: NAM_DINH, NoiOHienTai: HA_NOI_2,
    QuocTich: 'VN',
    ChuHo: { QuanHe: '01', HoVaTen: 'Tô Văn Giả Định', SoDinhDanh: '036099999920' }, SoSoHoKhau: '360000014',
  },
];
