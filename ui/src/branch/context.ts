import { createContext, useContext } from "react";
import type { CatalogDto } from "../generated/CatalogDto";
import type { SessionInfo } from "../generated/SessionInfo";
import type { CaseQuery } from "../generated/CaseQuery";

export type Route =
  | { name: "home"; discarded?: string }
  | { name: "wizard"; draftId?: string; forPerson?: string }
  | { name: "receipt"; caseId: string }
  | { name: "beneficiaries" }
  | { name: "cases"; filter?: Partial<CaseQuery> }
  | { name: "case"; id: string }
  | { name: "person"; id: string; edit?: boolean }
  | { name: "print"; kind: "receipt" | "form"; caseId: string }
  | { name: "complaints" }
  | { name: "kb" }
  | { name: "staff" }
  | { name: "data" }
  | { name: "sync_issues" };

export type Desk = {
  catalog: CatalogDto;
  session: SessionInfo;
  go: (r: Route) => void;
  isAdmin: boolean;
};

export const DeskContext = createContext<Desk | null>(null);
export const useDesk = () => useContext(DeskContext)!;
