"""Every word the screens show, in both languages, and the one way to look one up. No Kivy.

The catalog is grouped by screen; a key is "<section>.<name>", e.g. "thanks.title".
Texts with {placeholders} are filled from the keyword arguments of `say`. The font
check (`all_texts`) reads the catalog whole, so a new screen's words are checked
by being written here, with nothing else to remember.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.config import Locale, Settings

Pair = tuple[str, str]   # (中文, English)

CATALOG: dict[str, dict[str, Pair]] = {
    # The staff card on the rating and waiting screens.
    "staff_card": {
        "nobody": ("暂无工作人员签到", "No staff signed in"),
        "staff_no": ("工号", "Staff No."),
    },
    "rating": {
        "prompt": ("请您对本次服务进行评价", "Please rate our service"),
        "cooldown": ("感谢您的评价，请稍候…", "Thank you. One moment, please…"),
        "case": ("业务编号", "Case"),
    },
    # The waiting screen, and the attract screen that is its face in open mode.
    "waiting": {
        "title": ("欢迎光临", "Welcome"),
        "hint": ("办理业务后，请在此评价", "You can rate our service here after your visit"),
        "attract_hint": ("请触摸屏幕，对本次服务进行评价", "Touch the screen to rate our service"),
        "solicit": ("请评价", "Ask for rating"),
        "qr_questionnaire": ("扫码提出意见和建议", "Scan to give us your comments"),
    },
    # The opening hours on the waiting screen; the day names are keyed by `kiosk.config.Weekday`.
    "hours": {
        "heading": ("办公时间", "Opening hours"),
        "closed": ("休息", "closed"),
        "open_now": ("正在办公", "Open now"),
        "closed_now": ("非办公时间", "Closed now"),
        "through": ("至", "–"),
        "and": ("、", ", "),
        "mon": ("周一", "Mon"), "tue": ("周二", "Tue"), "wed": ("周三", "Wed"), "thu": ("周四", "Thu"),
        "fri": ("周五", "Fri"), "sat": ("周六", "Sat"), "sun": ("周日", "Sun"),
    },
    "reasons": {
        "title": ("很抱歉给您带来不好的体验", "We are sorry about your experience"),
        "prompt": ("请选择不满意的原因（可多选）", "What went wrong? (choose any)"),
        "submit": ("提交", "Submit"),
        "skip": ("跳过", "Skip"),
        "callback": ("留下电话，请回电", "Request a call-back"),
    },
    # The call-back form; the messages are keyed by `kiosk.screens.callback_form.Message`.
    "callback": {
        "title": ("请留下您的电话，我们将回电", "Leave your number and we will call you back"),
        "submit": ("提交", "Submit"),
        "cancel": ("不用了", "No, thanks"),
        "hint": ("请输入手机号码，或带区号的固定电话", "Enter a mobile number, or a landline with its area code"),
        "no_consent": ("请先勾选上方的同意条款，否则不会保存您的号码",
                       "Please tick the consent box first: without it your number is not kept"),
        "empty": ("请输入电话号码", "Please enter a phone number"),
        "mobile_length": ("手机号码应为 11 位，您输入了 {n} 位", "A mobile number has 11 digits; you typed {n}"),
        "mobile_prefix": ("手机号码应以 13–19 开头", "A mobile number starts with 13 to 19"),
        "landline": ("固定电话请输入区号和号码，如 010 6512 3456",
                     "For a landline, type the area code and number, e.g. 010 6512 3456"),
        "not_a_phone": ("号码有误：请输入手机号码，或带区号的固定电话",
                        "Not a phone number: enter a mobile number, or a landline with its area code"),
    },
    "thanks": {
        "title": ("感谢您的评价！", "Thank you for your rating!"),
        "good": ("欢迎您再次光临", "We look forward to seeing you again"),
        "bad": ("我们会认真改进，谢谢您的意见", "We will act on it. Thank you for telling us"),
        "callback": ("我们已收到您的回电请求，会尽快与您联系", "We have your request and will call you back soon"),
        "recorded_as": ("您的评价：", "Your rating: "),
        "qr_complaint": ("如需投诉，请用手机扫码", "To file a complaint, scan with your phone"),
        "qr_receipt": ("扫码查看评价回执", "Scan to see your rating's receipt"),
        "qr_receipt_complaint": ("扫码查看回执，也可投诉", "Scan for your receipt, or to complain"),
    },
    "out_of_service": {
        "title": ("评价器暂停服务", "Evaluator temporarily out of service"),
        "body": ("评价暂时无法保存，请联系工作人员。恢复后将自动继续。",
                 "Ratings cannot be saved right now. Please tell a member of staff. "
                 "The terminal resumes by itself."),
    },
    "sign_in": {
        "title": ("工作人员登录", "Staff sign-in"),
        "pick": ("请选择您的姓名，然后输入密码", "Choose your name, then enter your PIN"),
        "technician": ("技术员", "Technician"),
        "wrong": ("密码错误，还可尝试 {n} 次", "Wrong PIN: {n} tries left"),
        "locked": ("错误次数过多，请 {m} 分钟后再试", "Too many wrong tries: try again in {m} min"),
        "no_pin": ("未设置密码，请用 evaluator set-pin --staff {id} 设置",
                   "No PIN set: set one with evaluator set-pin --staff {id}"),
        "no_password": ("未设置技术员密码，请用 evaluator set-pin --technician 设置",
                        "No technician password set: set one with evaluator set-pin --technician"),
        "choose_first": ("请先选择您的姓名", "Choose your name first"),
        "ok": ("确定", "OK"),
        "back": ("返回", "Back"),
        "serve": ("在此窗口服务", "Serve at this counter"),
        "leave_counter": ("结束在此窗口服务", "Stop serving here"),
    },
    # The scores screen's headings: `ScoresModel.texts` carries them all, keyed by name.
    "scores": {
        "title": ("今日评价", "Today's ratings"),
        "total": ("评价总数", "Ratings"),
        "good_rate": ("好评率", "Good rate"),
        "target": ("目标", "Target"),
        "unrated": ("未评价", "Unrated"),
        "suppressed": ("无效按键", "Ignored presses"),
        "bad_reviews": ("差评", "Bad reviews"),
        "no_reason": ("未选原因", "No reason given"),
        "staff": ("工作人员", "Staff"),
        "no_staff": ("未签到", "Nobody signed in"),
        "trend": ("近{days}天好评率", "Good rate, last {days} days"),
        "queue": ("待上传", "Waiting to upload"),
        "last_upload": ("最近上传", "Last upload"),
        "never": ("从未", "Never"),
        "no_sync": ("未配置上传", "Upload not set up"),
    },
    # Technician mode and its enrollment (provision) screen.
    "technician": {
        "title": ("技术员模式", "Technician mode"),
        "device": ("设备", "Device"), "store": ("存储", "Storage"), "sync": ("上传", "Upload"),
        "panel": ("按键面板", "Panel"), "clock": ("时钟", "Clock"),
        "check": ("检查存储", "Check storage"), "export": ("导出近{days}天评价", "Export last {days} days"),
        "scores": ("查看评分", "Scores"), "restart": ("重启程序", "Restart"), "back": ("返回", "Back"),
        "test_key": ("测试按键", "Test key"),
        # Restart asks for a second tap; outside systemd the program starts itself again.
        "confirm_restart": ("确认重启", "Confirm restart"),
        "restart_ask": ("{s} 秒内再点“确认重启”即重启程序", "Tap Confirm restart within {s} s to restart"),
        "restarting": ("正在重启程序…", "Restarting…"),
        "no_panel_configured": ("未配置面板", "No panel configured"),
        # What went wrong, inside the messages above ({why}): never an exception's own (English) words.
        "storage_unreadable": ("无法读取存储", "the storage cannot be read"),
        "storage_damaged": ("数据库文件损坏", "the database file is damaged"),
        "chain_broken": ("哈希链在第 {seq} 条评价处断开", "the hash chain breaks at rating {seq}"),
        "stick_full": ("U盘空间不足", "the USB stick is full"),
        "stick_read_only": ("U盘只读，无法写入", "the USB stick is read-only"),
        "stick_failed": ("无法写入U盘", "cannot write to the USB stick"),
        "not_enrolled": ("本机尚未登记，请先点“{enroll}”", "not enrolled yet, tap {enroll} first"),
        "refused": ("中心拒绝本机（密钥已失效，或时钟偏差过大）",
                    "the centre refuses this terminal (key revoked, or clock far off)"),
        "no_network": ("连不上中心，请检查网络和服务器地址",
                       "cannot reach the centre; check the network and the server URL"),
        "malformed": ("中心拒收了请求", "the centre rejected the request"),
        "centre_failed": ("与中心通信出错", "talking to the centre failed"),
        # The status table: values (kiosk.screens.technician_rows) and a label for each key of
        # kiosk.store.status.gather(), as "<part>.<key>"; a key without one is shown as its name.
        "none": ("—", "—"), "yes": ("是", "yes"), "no": ("否", "no"), "separator": ("、", ", "),
        "seconds": ("{n} 秒", "{n} s"),
        "device.id": ("设备编号", "Device ID"), "device.unit": ("单位编号", "Unit ID"),
        "device.unit_name": ("单位名称", "Unit name"), "device.counter": ("窗口编号", "Counter ID"),
        "device.counter_name": ("窗口名称", "Counter name"), "device.version": ("软件版本", "Software version"),
        "device.mode": ("评价模式", "Rating mode"),
        "store.path": ("数据库文件", "Database file"), "store.size_bytes": ("数据库大小", "Database size"),
        "store.free_bytes": ("剩余空间", "Free space"), "store.ratings": ("评价条数", "Ratings stored"),
        "store.last_seq": ("最新序号", "Last sequence number"), "store.last_rating_at": ("最近评价", "Last rating"),
        "store.integrity": ("完整性检查", "Integrity check"),
        "sync.server": ("中心地址", "Centre URL"), "sync.provisioned": ("已登记", "Enrolled"),
        "sync.last_success_at": ("最近成功上传", "Last successful upload"),
        "sync.last_attempt_at": ("最近尝试上传", "Last upload attempt"), "sync.last_error": ("最近错误", "Last error"),
        "sync.queue_depth": ("待上传条数", "Ratings waiting"),
        "sync.oldest_unsynced_at": ("最早待上传评价", "Oldest waiting rating"),
        "sync.rejected": ("被拒收条数", "Ratings rejected"), "sync.rejected_reasons": ("拒收原因", "Why rejected"),
        "clock.utc": ("当前时间", "Time now"), "clock.suspect": ("时钟可疑", "Clock suspect"),
        "clock.offset_s": ("与中心时差", "Offset from the centre"),
        "panel.configured": ("配置的端口", "Configured port"), "panel.port": ("端口", "Port"),
        "panel.connected": ("已连接", "Connected"), "panel.since": ("状态起始", "Since"),
        "panel.model": ("型号", "Model"), "panel.firmware": ("固件版本", "Firmware"),
        "panel.last_frame_at": ("最近收到帧", "Last frame"),
        "panel.frames_ok_bad": ("正常帧 / 校验错误", "Frames ok / bad checksum"),
        "panel.invalid_unknown": ("无效帧 / 未知帧", "Invalid / unknown frames"),
        "panel.reconnects": ("重连次数", "Reconnects"),
        "frames.rx": ("收", "in"), "frames.tx": ("发", "out"),
        "ok_storage": ("存储完好：{n} 条评价，哈希链完整", "Storage intact: {n} ratings, hash chain unbroken"),
        "bad_storage": ("存储异常：{why}", "Storage problem: {why}"),
        "exported": ("已导出 {n} 条到 {path}", "{n} ratings written to {path}"),
        "export_failed": ("导出失败：{why}", "Export failed: {why}"),
        "no_stick": ("导出失败：{path} 没有U盘，请插入U盘后再导出",
                     "Export failed: no USB stick at {path}; insert one and export again"),
        "lit": ("已点亮按键 {key}", "Key {key} lit"),
        "no_panel": ("未连接按键面板", "No panel connected"),
        "hint": ("二维码：设备登记信息", "QR: device registration"),
        "frames": ("面板收发记录", "Panel frames"), "reconnect": ("重连面板", "Reconnect panel"),
        "reconnecting": ("正在重连面板…", "Reconnecting the panel…"),
        "test_connection": ("测试连接", "Test connection"), "sync_now": ("立即上传", "Upload now"),
        "provision": ("设备登记", "Enroll"),
        "working": ("请稍候…", "Working…"),
        "checking": ("正在检查存储，请稍候…", "Checking the storage…"),
        "exporting": ("正在导出到U盘，请稍候…", "Exporting to the USB stick…"),
        "reachable": ("已连接 {server}（{ms:.0f} 毫秒）", "Reached {server} ({ms:.0f} ms)"),
        "unreachable": ("连接失败：{why}", "Connection failed: {why}"),
        "uploading": ("上传中 {n}/{total}", "Uploading {n}/{total}"),
        "uploaded": ("已上传：{ok} 条，拒收 {rejected} 条", "Uploaded: {ok}, rejected {rejected}"),
        "upload_failed": ("上传失败：{why}", "Upload failed: {why}"),
        "no_centre": ("未配置上传", "Upload not set up"),
        "provisioned": ("已登记为 {device}，重启后生效", "Enrolled as {device}; restart to apply"),
        "provision_failed": ("登记失败：{why}", "Enrollment failed: {why}"),
        # Why enrollment did not happen: sync.provision.ProvisionProblem, one line each (the CLI prints the English).
        "provision_bad_server": ("服务器地址有误：应以 http:// 或 https:// 开头，后接主机名",
                                 "Bad server URL: it must start with http:// or https:// and name a host"),
        "provision_bad_code": ("登记码有误：应为中心给出的字母和数字",
                               "Not an enrollment code: type the letters and digits the centre gave"),
        "provision_unknown_code": ("中心没有这个登记码，请核对后重新输入",
                                   "The centre does not know this code: check it and type it again"),
        "provision_used_code": ("该登记码已被使用，请向中心申请新的登记码",
                                "This code has been used already: ask the centre for a new one"),
        "provision_expired_code": ("该登记码已过期，请向中心申请新的登记码",
                                   "This code has expired: ask the centre for a new one"),
        "provision_unreachable": ("无法连接 {server}：请检查地址和网络",
                                  "Cannot reach {server}: check the address and the network"),
        "provision_not_a_centre": ("{server} 不是评价中心：请检查地址",
                                   "{server} did not answer as a centre: check the address"),
        "provision_centre_fault": ("中心出错（HTTP {status}），请稍后再试",
                                   "The centre failed (HTTP {status}): try again later"),
        "server": ("服务器地址", "Server URL"), "code": ("登记码", "Enrollment code"), "submit": ("提交", "Submit"),
    },
}

# What the screens draw besides words: times in the opening hours ("09:00–12:00").
TIME_GLYPHS = "–:0123456789"


def say(key: str, locale: Locale, **values: object) -> str:
    """The text under `key` ("<section>.<name>") in `locale`, its {placeholders} filled from `values`."""
    section, _, name = key.partition(".")
    return Voice(section)(name, locale, **values)


@dataclass(frozen=True)
class Voice:
    """`say` for one section, keys written without it: the voice of a module that draws a single screen.

    Names are looked up as given, never formatted, so a `str` enum member (a `Message`, a `Weekday`)
    finds the text of its value."""

    section: str

    def __post_init__(self) -> None:
        if self.section not in CATALOG:   # a misspelt section fails at import, not on the screen
            raise KeyError(f"no section {self.section!r} in the screens' text catalog")

    def __call__(self, name: str, locale: Locale, **values: object) -> str:
        return locale.pick(*CATALOG[self.section][name]).format(**values)

    def names(self) -> tuple[str, ...]:
        return tuple(CATALOG[self.section])


def all_texts(settings: Settings) -> str:
    """Every character the screens may draw, for checking the font covers them: the whole catalog in both
    languages, and the words the unit configured (levels, reasons, names, the call-back consent)."""
    parts = [zh + en for section in CATALOG.values() for zh, en in section.values()]
    parts += [TIME_GLYPHS, settings.citizen.callback.consent_zh, settings.citizen.callback.consent_en]
    parts += [level.zh + level.en for level in settings.levels]
    parts += [reason.zh + reason.en for reason in settings.bad_reasons]
    parts += [settings.unit.name, settings.unit.name_en, settings.counter.name, settings.counter.name_en]
    parts += [member.name + (member.name_en or "") + member.post + (member.post_en or "")
              for member in settings.staff]
    return "".join(parts)
