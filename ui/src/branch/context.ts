import { createContext, useContext } from "react";
import type { CatalogDto } from "../generated/CatalogDto";
import type { SessionInfo } from "../generated/SessionInfo";
import type { CaseQuery } from "../generated/CaseQuery";

export type Route =
  | { name: "home" }
  | { name: "wizard" }
  | { name: "receipt"; caseId: string }
  | { name: "beneficiaries" }
  | { name: "cases"; filter?: Partial<CaseQuery> }
  | { name: "case"; id: string }
  | { name: "print"; kind: "receipt" | "form"; caseId: string }
  | { name: "kb" }
  | { name: "staff" };

export type Desk = {
  catalog: CatalogDto;
  session: SessionInfo;
  go: (r: Route) => void;
  isAdmin: boolean;
};

export const DeskContext = createContext<Desk | null>(null);
export const useDesk = () => useContext(DeskContext)!;
