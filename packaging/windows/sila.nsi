; Sila's Windows installer, made by Debian's makensis (packaging/windows/build.sh). The Tauri
; bundler's own NSIS step fetches a plugin from GitHub at build time, which this project's
; machines cannot reach; this script needs nothing but the nsis package.
; Per-machine: the program under Program Files (the app sila-desktop.exe, the command line
; sila.exe: two names, as Windows' file names ignore case), the menu entry "صلة", an uninstaller listed in
; Windows' "Apps". Each staff member's data stays in their own profile (%APPDATA%), so
; uninstalling (or updating: the app runs this installer with /S) never touches a store.
; A 64-bit installer (Debian's nsis has the amd64 stubs): Sila is 64-bit only, and a 64-bit
; installer runs where a 32-bit one would need WoW64 (e.g. Debian's wine64 alone).
Target amd64-unicode
!include "MUI2.nsh"
!include "x64.nsh"

!ifndef VERSION
  !error "makensis -DVERSION=X.Y.Z -DAPP=… -DCLI=… -DOUTFILE=…"
!endif

Name "صلة (Sila)"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\Sila"
InstallDirRegKey HKLM "Software\Sila" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID lzma
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "Sila"
VIAddVersionKey /LANG=0 "FileDescription" "صلة — إدارة الحالات"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "LegalCopyright" "Sila"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\sila-desktop.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "Arabic"
!insertmacro MUI_LANGUAGE "English"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Sila"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "صلة تعمل على ويندوز 64 بت فقط."
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Section "Sila"
  ; An update runs while the old app may still be closing: wait for it rather than fail.
  SetOverwrite try
  SetOutPath "$INSTDIR"
  File "/oname=sila-desktop.exe" "${APP}"
  File "/oname=sila.exe" "${CLI}"
  File "/oname=WebView2Loader.dll" "${LOADER}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  SetShellVarContext all
  CreateShortcut "$SMPROGRAMS\صلة.lnk" "$INSTDIR\sila-desktop.exe"
  WriteRegStr HKLM "Software\Sila" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "صلة (Sila)"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "Sila"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\sila-desktop.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Uninstall"
  Delete "$INSTDIR\sila-desktop.exe"
  Delete "$INSTDIR\sila.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  SetShellVarContext all
  Delete "$SMPROGRAMS\صلة.lnk"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  DeleteRegKey HKLM "Software\Sila"
SectionEnd
