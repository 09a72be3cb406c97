"""The demo city's names: its districts, the kind of service unit each shipped sector runs, its staff.

Plausible rather than real: the districts are made up, so a screenshot never shows a real office's figures.
Every name fits what a terminal shows (centre/registry/model.py's limits), which the registry checks anyway.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    code: str        # the start of its units' ids
    name: str        # 县/市/区, as the registry stores it
    name_en: str
    short: str       # the name as a unit's name starts with it (东城区 → 东城)
    short_en: str


DISTRICTS = (
    District("dc", "东城区", "Dongcheng District", "东城", "Dongcheng"),
    District("xc", "西城区", "Xicheng District", "西城", "Xicheng"),
    District("nh", "南湖区", "Nanhu District", "南湖", "Nanhu"),
    District("bs", "北山区", "Beishan District", "北山", "Beishan"),
    District("jb", "江滨区", "Jiangbin District", "江滨", "Jiangbin"),
    District("gx", "高新区", "Gaoxin District", "高新", "Gaoxin"),
    District("lj", "临江县", "Linjiang County", "临江", "Linjiang"),
    District("qx", "青溪县", "Qingxi County", "青溪", "Qingxi"),
    District("yt", "云台市", "Yuntai City", "云台", "Yuntai"),
)


@dataclass(frozen=True)
class UnitKind:
    """What a sector's unit is called, and when it is open (centre/registry/hours.py's one-line syntax)."""

    name: str
    name_en: str
    hours: str


# Three kinds of opening hours: government offices close for lunch and at the weekend; the busiest open
# on Saturday mornings too; the utilities' business halls open every day without a lunch break.
OFFICE = "mon-fri 09:00-12:00 13:30-17:30"
OFFICE_EARLY = "mon-fri 08:30-12:00 14:00-17:30"
OFFICE_SATURDAY = "mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00"
BUSINESS_HALL = "mon-sun 09:00-17:30"

UNIT_KINDS = {
    "education": UnitKind("教育服务中心", "Education Service Centre", OFFICE),
    "health": UnitKind("卫生健康服务窗口", "Health Service Office", OFFICE_EARLY),
    "hrss": UnitKind("人社服务中心", "Human Resources and Social Security Service Centre", OFFICE_SATURDAY),
    "construction": UnitKind("住建服务大厅", "Housing and Construction Service Hall", OFFICE),
    "land": UnitKind("不动产登记中心", "Real Estate Registration Centre", OFFICE_SATURDAY),
    "planning": UnitKind("规划服务窗口", "Planning Service Office", OFFICE),
    "housing": UnitKind("住房保障服务中心", "Housing Security Service Centre", OFFICE),
    "environment": UnitKind("生态环境服务窗口", "Environment Service Office", OFFICE_EARLY),
    "transport": UnitKind("交通运输服务站", "Transport Service Station", OFFICE),
    "agriculture": UnitKind("农业服务中心", "Agriculture Service Centre", OFFICE_EARLY),
    "water": UnitKind("水务服务窗口", "Water Affairs Office", OFFICE),
    "culture": UnitKind("文化旅游服务窗口", "Culture and Tourism Office", OFFICE),
    "urban_management": UnitKind("城管服务站", "Urban Management Station", OFFICE),
    "public_security": UnitKind("公安户政大厅", "Police Household Registration Hall", OFFICE_SATURDAY),
    "finance": UnitKind("财政服务窗口", "Finance Service Office", OFFICE),
    "national_tax": UnitKind("税务服务厅", "Tax Service Hall", OFFICE_SATURDAY),
    "local_tax": UnitKind("地税服务厅", "Local Tax Service Hall", OFFICE),
    "industry_commerce": UnitKind("市场监管服务窗口", "Market Regulation Office", OFFICE),
    "banking": UnitKind("金融服务中心", "Financial Services Centre", BUSINESS_HALL),
    "power": UnitKind("供电营业厅", "Power Supply Business Hall", BUSINESS_HALL),
    "telecom": UnitKind("通信营业厅", "Telecom Business Hall", BUSINESS_HALL),
}


def unit_kind(code: str, name: str, name_en: str | None) -> UnitKind:
    """The kind of unit a sector runs; a sector an office added itself gets a plain service centre."""
    return UNIT_KINDS.get(code) or UnitKind(f"{name}服务中心", f"{name_en or code} Service Centre", OFFICE)


# Common surnames and given names, each with its pinyin: a staff card shows both languages.
SURNAMES = (("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
            ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("孙", "Sun"),
            ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"), ("郭", "Guo"), ("何", "He"), ("林", "Lin"))
GIVEN_NAMES = (("芳", "Fang"), ("伟", "Wei"), ("敏", "Min"), ("静", "Jing"), ("磊", "Lei"), ("洋", "Yang"),
               ("婷", "Ting"), ("军", "Jun"), ("丽", "Li"), ("强", "Qiang"), ("艳", "Yan"), ("杰", "Jie"),
               ("涛", "Tao"), ("明", "Ming"), ("霞", "Xia"), ("桂英", "Guiying"), ("建华", "Jianhua"),
               ("秀兰", "Xiulan"), ("志强", "Zhiqiang"), ("海燕", "Haiyan"), ("晓东", "Xiaodong"),
               ("文静", "Wenjing"), ("子涵", "Zihan"), ("浩然", "Haoran"))
POSTS = (("综合受理岗", "Front desk clerk"), ("业务办理岗", "Case officer"), ("窗口负责人", "Counter supervisor"))
