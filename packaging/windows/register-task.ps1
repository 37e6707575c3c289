# Registers a Task Scheduler task that rotates the keys of every profile that are 90 days old or
# more, Mondays at 04:00, as the current user (only while the user is logged on: the task needs
# no stored password). Run it in PowerShell as that user:
#
#     powershell -ExecutionPolicy Bypass -File packaging\windows\register-task.ps1
#
# -Exe names the binary when it is not on PATH. Errors and warnings go to
# %LOCALAPPDATA%\aws-rotate-keys\rotate.log. Remove the task with
# Unregister-ScheduledTask -TaskName aws-rotate-keys.
# The same from cmd.exe, without the log:
#     schtasks /Create /SC WEEKLY /D MON /ST 04:00 /TN aws-rotate-keys /TR "\"%USERPROFILE%\.cargo\bin\aws-rotate-keys.exe\" --all-profiles --older-than 90d --yes --output off"

param(
    [string]$Exe = "",
    [string]$TaskName = "aws-rotate-keys"
)

$ErrorActionPreference = "Stop"

if ($Exe -eq "") {
    $found = Get-Command aws-rotate-keys.exe -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($null -eq $found) {
        throw "aws-rotate-keys.exe is not on PATH: pass its full path with -Exe"
    }
    $Exe = $found.Source
}
$Exe = (Resolve-Path -LiteralPath $Exe).Path

$logDir = Join-Path $env:LOCALAPPDATA "aws-rotate-keys"
New-Item -ItemType Directory -Force -Path $logDir | Out-Null
$log = Join-Path $logDir "rotate.log"

# Through cmd.exe, so that stderr goes to the log file.
$command = "`"$Exe`" --all-profiles --older-than 90d --yes --output off 2>> `"$log`""
$action = New-ScheduledTaskAction -Execute "cmd.exe" -Argument "/D /C `"$command`""
$trigger = New-ScheduledTaskTrigger -Weekly -DaysOfWeek Monday -At 4am
# A run missed while the machine was off is started when it can be.
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable

Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings `
    -Description "aws-rotate-keys --all-profiles --older-than 90d --yes" -Force | Out-Null
Write-Host "registered task $TaskName`: $Exe, Mondays at 04:00; log: $log"
