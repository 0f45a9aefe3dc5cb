import type { CongDan } from './people.js';
import { escapeXml } from './soap.js';

/** Element order of each structure in the answer, as the real service lists them. */
const DIA_CHI = ['MaTinhThanh', 'MaQuanHuyen', 'MaPhuongXa', 'ChiTiet', 'QuocGia'];
const THAN_NHAN = ['HoVaTen', 'QuocTich', 'SoDinhDanh', 'SoCMND'];
const ORDER: Record<string, readonly string[]> = {
  CongDan: [
    'SoDinhDanh', 'SoCMND', 'HoVaTen', 'GioiTinh', 'DanToc', 'TonGiao', 'TinhTrangHonNhan', 'NhomMau', 'NgayThangNamSinh',
    'NoiDangKyKhaiSinh', 'QueQuan', 'ThuongTru', 'NoiOHienTai', 'QuocTich', 'Cha', 'Me', 'VoChong', 'NguoiDaiDien', 'ChuHo', 'SoSoHoKhau',
  ],
  HoVaTen: ['Ho', 'ChuDem', 'Ten'],
  NgayThangNamSinh: ['Nam', 'NgayThangNam'],
  NoiDangKyKhaiSinh: DIA_CHI, QueQuan: DIA_CHI, ThuongTru: DIA_CHI, NoiOHienTai: DIA_CHI,
  Cha: THAN_NHAN, Me: THAN_NHAN, VoChong: THAN_NHAN, NguoiDaiDien: THAN_NHAN,
  ChuHo: ['QuanHe', 'HoVaTen', 'SoDinhDanh'],
};

function element(name: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value === '' ? `<qldc:${name}/>` : `<qldc:${name}>${escapeXml(value)}</qldc:${name}>`;
  const node = value as Record<string, unknown>;
  const children = (ORDER[name] ?? []).map((child) => element(child, node[child])).join('');
  return `<qldc:${name}>${children}</qldc:${name}>`;
}

/** `<qldc:CongDan>…</qldc:CongDan>`; built once per person at start-up. */
export const congDanXml = (person: CongDan): string => element('CongDan', person);

export const collectionXml = (congDan: string[]): string =>
  congDan.length === 0 ? '<qldc:CongdanCollection/>' : `<qldc:CongdanCollection>${congDan.join('')}</qldc:CongdanCollection>`;
