/**
 * The shipped CongDan → CitizenRecord mapping (mappings/csdldc/TraCuuThongTinCongDan.in.yaml) written by
 * hand, as a careful developer would: same fields, same normalisation, same strict date and code checks.
 * It is the baseline for `mapping.vs-hand`.
 */
type Obj = Record<string, any>;

const GENDER: Record<string, string> = { '1': 'M', '2': 'F', '0': 'U' };
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isoFromCompact(value: string): string {
  if (!/^\d{8}$/.test(value)) throw new Error('birthDate: bad date');
  const y = +value.slice(0, 4), m = +value.slice(4, 6), d = +value.slice(6, 8);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (m < 1 || m > 12 || d < 1 || d > (m === 2 && !leap ? 28 : DAYS[m - 1]!)) throw new Error('birthDate: bad date');
  return `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
}

const present = (v: unknown): v is string => v !== undefined && v !== null && v !== '';

function address(a: Obj | undefined): Obj | undefined {
  if (!a) return undefined;
  const out: Obj = {};
  if (present(a.MaTinhThanh)) out.provinceCode = a.MaTinhThanh;
  if (present(a.MaQuanHuyen)) out.districtCode = a.MaQuanHuyen;
  if (present(a.MaPhuongXa)) out.wardCode = a.MaPhuongXa;
  if (present(a.ChiTiet)) out.detail = a.ChiTiet;
  if (present(a.QuocGia)) out.country = a.QuocGia;
  return Object.keys(out).length ? out : undefined;
}

function relative(r: Obj | undefined): Obj | undefined {
  if (!r) return undefined;
  const out: Obj = {};
  if (present(r.HoVaTen)) out.fullName = r.HoVaTen;
  if (present(r.SoDinhDanh)) out.personalId = r.SoDinhDanh;
  if (present(r.SoCMND)) out.legacyId = r.SoCMND;
  if (present(r.QuocTich)) out.nationality = r.QuocTich;
  return Object.keys(out).length ? out : undefined;
}

export function handMapCitizen(input: Obj): Obj {
  const c = input?.CongdanCollection?.CongDan ?? {};
  const out: Obj = {};
  if (present(c.SoDinhDanh)) out.personalId = c.SoDinhDanh;
  if (present(c.SoCMND)) out.legacyId = c.SoCMND;
  const n = c.HoVaTen ?? {};
  const name: Obj = {};
  if (present(n.Ho)) name.family = n.Ho.trim().normalize('NFC');
  if (present(n.ChuDem)) name.middle = n.ChuDem.trim().normalize('NFC');
  if (present(n.Ten)) name.given = n.Ten.trim().normalize('NFC');
  const parts = [n.Ho, n.ChuDem, n.Ten].filter(present);
  if (parts.length) name.full = parts.join(' ').normalize('NFC');
  if (Object.keys(name).length) out.name = name;
  if (present(c.GioiTinh)) {
    const g = GENDER[c.GioiTinh];
    if (!g) throw new Error('gender: unmapped code');
    out.gender = g;
  } else out.gender = 'U';
  const b = c.NgayThangNamSinh ?? {};
  const birth: Obj = {};
  if (present(b.Nam)) {
    if (!/^-?\d+$/.test(b.Nam.trim())) throw new Error('birthDate.year: bad number');
    birth.year = Number(b.Nam);
  }
  if (present(b.NgayThangNam)) birth.date = isoFromCompact(b.NgayThangNam);
  if (Object.keys(birth).length) out.birthDate = birth;
  if (present(c.DanToc)) out.ethnicity = c.DanToc;
  if (present(c.TonGiao)) out.religion = c.TonGiao;
  if (present(c.TinhTrangHonNhan)) out.maritalStatus = c.TinhTrangHonNhan;
  if (present(c.NhomMau)) out.bloodType = c.NhomMau;
  if (present(c.QuocTich)) out.nationality = c.QuocTich;
  const addresses: Obj = {};
  const br = address(c.NoiDangKyKhaiSinh), ht = address(c.QueQuan), pm = address(c.ThuongTru), cu = address(c.NoiOHienTai);
  if (br) addresses.birthRegistration = br;
  if (ht) addresses.hometown = ht;
  if (pm) addresses.permanent = pm;
  if (cu) addresses.current = cu;
  if (Object.keys(addresses).length) out.addresses = addresses;
  const family: Obj = {};
  const fa = relative(c.Cha), mo = relative(c.Me), sp = relative(c.VoChong), re = relative(c.NguoiDaiDien);
  if (fa) family.father = fa;
  if (mo) family.mother = mo;
  if (sp) family.spouse = sp;
  if (re) family.representative = re;
  if (Object.keys(family).length) out.family = family;
  const h = c.ChuHo ?? {};
  const household: Obj = {};
  if (present(h.HoVaTen)) household.headName = h.HoVaTen;
  if (present(h.SoDinhDanh)) household.headPersonalId = h.SoDinhDanh;
  if (present(h.QuanHe)) household.relationToHead = h.QuanHe;
  if (present(c.SoSoHoKhau)) household.bookNo = c.SoSoHoKhau;
  if (Object.keys(household).length) out.household = household;
  return out;
}

/** The same mapping in JSONata, the usual "configurable" alternative, for `mapping.vs-jsonata`. */
export const JSONATA_CITIZEN = `(
  $c := CongdanCollection.CongDan;
  $addr := function($a) { $a ? { "provinceCode": $a.MaTinhThanh, "districtCode": $a.MaQuanHuyen, "wardCode": $a.MaPhuongXa, "detail": $a.ChiTiet, "country": $a.QuocGia } };
  $rel := function($r) { $r ? { "fullName": $r.HoVaTen, "personalId": $r.SoDinhDanh, "legacyId": $r.SoCMND, "nationality": $r.QuocTich } };
  $g := { "1": "M", "2": "F", "0": "U" };
  $d := $c.NgayThangNamSinh.NgayThangNam;
  {
    "personalId": $c.SoDinhDanh,
    "legacyId": $c.SoCMND,
    "name": {
      "family": $trim($c.HoVaTen.Ho), "middle": $trim($c.HoVaTen.ChuDem), "given": $trim($c.HoVaTen.Ten),
      "full": $join([$c.HoVaTen.Ho, $c.HoVaTen.ChuDem, $c.HoVaTen.Ten], " ")
    },
    "gender": $c.GioiTinh ? $lookup($g, $c.GioiTinh) : "U",
    "birthDate": {
      "year": $number($c.NgayThangNamSinh.Nam),
      "date": $d ? $fromMillis($toMillis($d, "[Y0001][M01][D01]"), "[Y0001]-[M01]-[D01]")
    },
    "ethnicity": $c.DanToc, "religion": $c.TonGiao, "maritalStatus": $c.TinhTrangHonNhan, "bloodType": $c.NhomMau, "nationality": $c.QuocTich,
    "addresses": { "birthRegistration": $addr($c.NoiDangKyKhaiSinh), "hometown": $addr($c.QueQuan), "permanent": $addr($c.ThuongTru), "current": $addr($c.NoiOHienTai) },
    "family": { "father": $rel($c.Cha), "mother": $rel($c.Me), "spouse": $rel($c.VoChong), "representative": $rel($c.NguoiDaiDien) },
    "household": { "headName": $c.ChuHo.HoVaTen, "headPersonalId": $c.ChuHo.SoDinhDanh, "relationToHead": $c.ChuHo.QuanHe, "bookNo": $c.SoSoHoKhau }
  }
)`;

export const CITIZEN_FIXTURE = {
  CongdanCollection: {
    CongDan: {
      SoDinhDanh: '038095999901', SoCMND: '172999901',
      HoVaTen: { Ho: 'Trần', ChuDem: 'Văn', Ten: 'Thử' },
      GioiTinh: '1', DanToc: 'Kinh', TonGiao: 'Không', TinhTrangHonNhan: 'Đã kết hôn', NhomMau: 'O',
      NgayThangNamSinh: { Nam: '1995', NgayThangNam: '19950102' },
      NoiDangKyKhaiSinh: { MaTinhThanh: '38', MaQuanHuyen: '380', MaPhuongXa: '14755', ChiTiet: 'UBND xã Giả Định', QuocGia: 'Việt Nam' },
      QueQuan: { MaTinhThanh: '38', MaQuanHuyen: '380', MaPhuongXa: '14755', ChiTiet: 'Thôn Mẫu', QuocGia: 'Việt Nam' },
      ThuongTru: { MaTinhThanh: '38', MaQuanHuyen: '380', MaPhuongXa: '14755', ChiTiet: 'Số 1 phố Giả Định', QuocGia: 'Việt Nam' },
      NoiOHienTai: { MaTinhThanh: '01', MaQuanHuyen: '001', MaPhuongXa: '00001', ChiTiet: 'Số 2 ngõ Thử Nghiệm', QuocGia: 'Việt Nam' },
      QuocTich: 'Việt Nam',
      Cha: { HoVaTen: 'Trần Văn Bố', QuocTich: 'Việt Nam', SoDinhDanh: '038065999911' },
      Me: { HoVaTen: 'Nguyễn Thị Mẹ', QuocTich: 'Việt Nam', SoDinhDanh: '038170999912' },
      VoChong: { HoVaTen: 'Lê Thị Mẫu', QuocTich: 'Việt Nam', SoDinhDanh: '001199999902' },
      ChuHo: { QuanHe: 'Chủ hộ', HoVaTen: 'Trần Văn Thử', SoDinhDanh: '038095999901' },
      SoSoHoKhau: 'HK-999901',
    },
  },
};
